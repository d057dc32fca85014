"""API tokens: admins issue and revoke them; the identity middleware accepts them as Bearer."""
