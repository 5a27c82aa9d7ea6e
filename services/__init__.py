"""The services of CPMRS, one package each; see docs/architecture.md."""
