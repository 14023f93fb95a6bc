"""The whitelist score as a platform service: training and registering models, batch and on-demand
scoring with the active model, and the district whitelists drawn from the scores (DESIGN §4)."""
