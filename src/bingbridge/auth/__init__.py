"""OAuth 2.0 for Microsoft Advertising: sign-in, token refresh and token storage."""
