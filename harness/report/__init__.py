"""report: Allure records, verdict.json, the summary tables and the plots across ratios."""
