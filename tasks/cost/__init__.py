"""The monthly cost review: FOCUS billing exports read, gated and analysed."""
