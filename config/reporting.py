"""What the debug page and error e-mails may show of the settings.

Django's own filter hides names containing API, TOKEN, KEY, SECRET, PASS or
SIGNATURE. Ours also hides the connection strings (DATABASE_URL, every *REDIS_URL and
the settings built from them: a URL carries its password) and every NOTIFY_*
and GROQ_* setting (Slack and webhook URLs are credentials in themselves).
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SettingsFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern
        + r"|^DATABASE_URL$|REDIS_URL$|^NOTIFY_|^GROQ_|^CELERY_BROKER_URL$|^CELERY_RESULT_BACKEND$"
        + r"|^CACHES$|^CHANNEL_LAYERS$|^DATABASES$|^EMAIL_HOST_USER$",
        flags=re.IGNORECASE,
    )
