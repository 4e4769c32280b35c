"""W11's load generator without a server: how the users are shared out, and the authenticator codes a
bench user gives (the server refuses a code of a time step it already accepted, and one more than a
step ahead)."""

import time

from bench.workloads import clinical_day
from django_otp.oath import TOTP


def test_the_personas_share_out_the_users_and_every_persona_has_one():
    assert clinical_day._counts(100) == {"reception": 30, "nurse": 30, "doctor": 30, "pharmacy": 10}
    for users in (4, 7, 13, 101):
        counts = clinical_day._counts(users)
        assert sum(counts.values()) == users
        assert min(counts.values()) >= 1


def test_each_code_is_of_a_later_time_step_within_the_servers_tolerance():
    key = bytes(range(20))
    totp = {"key": key, "step": 30, "t0": 0, "digits": 6, "drift": 0}
    if time.time() % 30 > 27:  # not across a step's boundary while the test runs
        time.sleep(3.5)
    now = int(time.time()) // 30
    staff = clinical_day.Staff("nurse", "n@example.org", None, totp, last_t=now - 5)
    first, second = staff.code(), staff.code()
    assert staff.last_t == now + 1
    for code, step in ((first, now), (second, now + 1)):
        reference = TOTP(key, 30, 0, 6, 0)
        reference.time = step * 30
        assert code == str(reference.token()).zfill(6)
