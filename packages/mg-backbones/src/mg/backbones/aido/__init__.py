"""AIDO.DNA, AIDO.RNA and AIDO.Protein: architectures and named families."""
