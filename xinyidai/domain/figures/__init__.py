"""The office's figures (DESIGN §7), disclosure-controlled: `metrics` defines and computes them in SQL, `cube`
serves the same figures from a pre-aggregated pandas cube, `exports` lays them out as the monthly report and
dashboard files, and `reports` produces those files (audited) for the office pages, `xyd report` and the
city node's monthly figures."""
