"""Fixed tables of the core: inbox states, legal transitions, limits."""

from datetime import timedelta

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB, larger deliveries are refused with 413

EVENT_STATES = [
    ("received", "Received"),
    ("processing", "Processing"),
    ("waiting", "Waiting"),
    ("done", "Done"),
    ("exception", "Exception"),
    ("failed", "Failed"),
    ("ignored", "Ignored"),
]

# States the processing job picks up. A committed ``processing`` row that is not
# row-locked belongs to a worker that died: claiming it again is safe because
# its work was rolled back with its transaction.
CLAIMABLE_STATES = ("received", "waiting", "processing")
UNPROCESSED_STATES = ("received", "processing", "waiting")

EVENT_TRANSITIONS = {
    "received": {"received", "processing", "ignored"},
    # a committed "processing" row is a dead worker's claim: it is processed again
    "processing": {"processing", "done", "waiting", "exception", "failed", "ignored",
                   "received"},
    "waiting": {"processing", "received", "ignored"},
    "done": {"received"},
    "exception": {"received", "ignored"},
    "failed": {"received", "ignored"},
    "ignored": {"received"},
}

# Technical errors and waits are retried with a growing delay, as queue_job's
# retry pattern: attempt n waits RETRY_BASE_DELAY * 2 ** (n - 1), capped.
RETRY_BASE_DELAY = timedelta(minutes=1)
RETRY_MAX_DELAY = timedelta(hours=6)
MAX_ATTEMPTS = 8
# An event whose prerequisite is in the exception queue waits for a person, without using up
# its attempts: it is released as soon as the prerequisite is applied, and looked at again
# this often in case that happened some other way.
PARKED_RECHECK_DELAY = timedelta(days=1)

PROCESS_BATCH_SIZE = 200
PAYLOAD_RETENTION_DAYS = 90


def retry_delay(attempt):
    """Delay before attempt ``attempt + 1`` after ``attempt`` failures."""
    delay = RETRY_BASE_DELAY * 2 ** max(attempt - 1, 0)
    return min(delay, RETRY_MAX_DELAY)
