"""ESM C (EvolutionaryScale): architecture, published-weight mapping and named families."""
