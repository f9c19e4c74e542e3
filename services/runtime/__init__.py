"""Shared plumbing for the PeerBridge services: events, outbox, inbox, auth, logging. No business rules."""
