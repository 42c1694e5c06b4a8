"""The learner's view: an iframe on a one-time launch URL. Pure functions, testable without the XBlock runtime."""

import html


def iframe_html(launch_url, title, height=720):
    """The fragment the XBlock renders. The URL is single use: a reload of the unit asks for a new one."""
    return (
        '<div class="sifu-notebook">'
        f'<iframe src="{html.escape(launch_url, quote=True)}" title="{html.escape(title, quote=True)}" '
        f'style="width:100%;height:{int(height)}px;border:0" '
        'allow="clipboard-read; clipboard-write" '
        'referrerpolicy="no-referrer"></iframe>'
        "</div>"
    )


def error_html(message):
    """What learners see when Sifu cannot be reached: never a stack trace, never a token."""
    return f'<div class="sifu-notebook sifu-error" role="alert">{html.escape(message)}</div>'
