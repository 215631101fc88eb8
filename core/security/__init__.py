"""Security kernel: who may do what (access), who did what (audit), who is
calling (authentication)."""
