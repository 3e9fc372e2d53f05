"""What customer-success touchpoints do to churn: target-trial cohorts, selection-corrected
effects and reports, graded against a simulator with known truth."""
