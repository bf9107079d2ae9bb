"""Membership of a person in one portal; lives in the portal's own schema."""
