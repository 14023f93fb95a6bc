"""The domain layer: every business rule of XinYiDai, written once (DESIGN §14).

Portals (enterprise, bank, office, admin, api, cli) hold views, forms and presentation only and call
down into this package; this package calls down into `models/` and `ml/`, never up into a portal.

One module per aggregate:

- ``needs``           publishing, editing, withdrawing a financing need
- ``applications``    the lifecycle (one state machine) and bank-reported outcomes
- ``products``        bank loan products and their credit policies
- ``matching``        need × product eligibility, ranking, the sayable reason a pair does not match
- ``authorizations``  an enterprise's data authorizations (授权): live, scope, expiry, revoke
- ``users``           accounts, staff, deactivation, sessions
- ``whitelist``       policy, draft, membership, and the one "published whitelist of a district" query
- ``standing``        the one "latest score of an enterprise" definition (a total order)
- ``model_registry``  the one audited promote / rollback (CLI, setup and admin all call it)
- ``reports``         monthly and enterprise reports
- ``joint_models``    a bank's modelling sample, its model (trained on the platform's data) and report, its scores
- ``credit_policy``   a product's credit policy (model, cut-off, amount formula, rate by band)
- ``in_principle``    in-principle answers (预授信) to published needs, withdrawn and confirmed
- ``errors``          the domain's exceptions
"""
