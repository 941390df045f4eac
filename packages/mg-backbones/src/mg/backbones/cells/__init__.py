"""Cell backbones: a baseline projection, AIDO.Cell and Geneformer."""
