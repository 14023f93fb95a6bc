"""Post-loan monitoring: checks on borrowers with outstanding loans, and the alerts they raise."""
