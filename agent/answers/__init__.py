"""Answer writing without a model, and the checks reflection runs on drafts."""
