"""``audience serve``: the segments over HTTP for other systems and people.

Input: a segmented workspace. Output: a FastAPI app with a JSON API (runs, the segment
tree, members, a contact's segment and why, real-time assignment, event ingestion,
background runs, API keys) and server-rendered dashboard pages. The last step of the
flow: it imports the others and nothing imports it.
"""

from audience.serve.app import create_app

__all__ = ["create_app"]
