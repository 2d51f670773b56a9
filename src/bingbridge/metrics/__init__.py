"""Daily ad metrics: report jobs, the report file reader, UTM parsing, the import pipeline, sinks and schedule."""
