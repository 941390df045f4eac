"""Enformer: its architecture in mg's own code, the published layout, and the backbones."""
