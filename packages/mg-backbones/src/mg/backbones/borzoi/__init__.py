"""Borzoi and Flashzoi: their architecture in mg's own code, the published layout, the backbones."""
