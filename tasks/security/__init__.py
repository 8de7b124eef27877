"""Security operations: log parsers, findings, certificates, headers, vulnerability reports."""
