"""Step 3, the causal estimates: propensity, matching, weighting, doubly robust, survival,
diagnostics and the verdict, refutation, heterogeneity, effects over time and the MSM."""
