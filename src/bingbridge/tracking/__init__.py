"""Server-side conversion tracking: workspaces and destinations, event ingestion, dispatch to Microsoft."""
