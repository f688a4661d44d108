"""Usage accounting and budgets: every answer's tokens are recorded, and a user's monthly budget is reserved from
before generation starts (``meter``); token estimates for answers whose provider gave no figures (``estimate``);
the UTC calendar months budgets run in (``months``)."""
