"""Lending: the application lifecycle (DESIGN §6) and what banks do with matched needs."""
