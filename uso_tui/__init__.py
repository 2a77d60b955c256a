"""uso-tui: keep schools' USO sign-on accounts in step with their IRIS MIS."""

__version__ = "0.1.0"
