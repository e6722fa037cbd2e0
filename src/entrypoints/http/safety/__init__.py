"""The operational safety system's routes: flags, kill switches, breakers,
impersonation, the audit log, data requests."""
