"""Step 2, the design: target-trial calendars, stacked cohorts and person-weeks."""
