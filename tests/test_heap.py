"""A serving process freezes its start-up heap and collects young objects less often."""

import gc

from responses_gateway.heap import YOUNG_THRESHOLD, settle_after_start


def test_start_up_objects_leave_the_collectors_sight_and_requests_garbage_still_goes() -> None:
    thresholds = gc.get_threshold()
    try:
        built_at_start = [object() for _ in range(10)]
        settle_after_start()
        assert gc.get_freeze_count() >= len(built_at_start)
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD

        cycle: list[object] = []
        cycle.append(cycle)  # garbage only the collector can free
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
