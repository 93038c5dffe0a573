"""The checklist templates in force: the config's, with the revisions saved on the page on top.

A template edited on the page is kept as a new revision in the checks record (who, when, the
whole template); the newest revision of a key wins over the config's template of that key, and
a revision of ``None`` removes the key. A completed checklist stores the template it was filled
with, so an edit changes what is asked from now on and never an old record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from hub.checks.config import TemplateConfig
from hub.checks.store import TemplateRevision


def parse(revision: TemplateRevision) -> TemplateConfig | None:
    """A stored revision's template (None: the revision removed it)."""
    if revision.template_json is None:
        return None
    return TemplateConfig.model_validate(json.loads(revision.template_json))


def in_force(configured: Mapping[str, TemplateConfig], latest: Sequence[TemplateRevision]) -> dict[str, TemplateConfig]:
    """The config's templates with the newest saved revision of each key applied, in the config's order."""
    found = dict(configured)
    for revision in latest:
        template = parse(revision)
        if template is None:
            found.pop(revision.key, None)
        else:
            found[revision.key] = template
    return found
