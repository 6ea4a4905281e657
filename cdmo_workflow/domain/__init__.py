"""The pure core: projects, phases, gates, sign-offs and decisions. No I/O, no clock."""
