"""The console entry point's process settings."""

import gc
import weakref

from source_sfmc.run import YOUNG_COLLECTION_THRESHOLD, tune_garbage_collection


class Node:
    me: "Node"


def test_garbage_collection_is_made_cheaper_but_stays_on():
    threshold = gc.get_threshold()
    try:
        tune_garbage_collection()
        assert gc.isenabled()
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *threshold[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_a_reference_cycle_made_after_tuning_is_still_collected():
    threshold = gc.get_threshold()
    try:
        tune_garbage_collection()
        node = Node()
        node.me = node
        alive = weakref.ref(node)
        del node
        gc.collect()
        assert alive() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
