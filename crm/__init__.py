"""The per-portal CRM apps, one sub-package per domain (contacts, leads, deals, pipelines, …).

Each sub-package keeps one shape: models, services, selectors, api, views + templates, jobs,
tests (DESIGN.md, Layout). Built by the CRM issues.
"""
