"""Talking to Microsoft Advertising: the REST client, its operations and models, raw REST and SOAP."""
