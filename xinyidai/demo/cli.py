from __future__ import annotations

import click

demo_group = click.Group("demo", help="Generate and inspect the demo population.")
