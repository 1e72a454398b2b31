"""The pipeline's filters: select resources for a rule, merge the rule into their pod templates."""
