"""The live twin (issue 15): counts in, forecasts and early warnings out.

* :mod:`sim.live.feed`: the record format and the feed readers (file, standard input, HTTP).
* :mod:`sim.live.sensors`: the scenario's sensors on the model, and which records to trust.
* :mod:`sim.live.ensemble`: the ensemble and its data assimilation (particle filter over demand,
  rain and walking speed; ensemble Kalman correction of counted zones booked as flows).
* :mod:`sim.live.forecast`: forecasts, fans, probabilities; :mod:`sim.live.measures`: what-ifs.
* :mod:`sim.live.twin`: the twin that follows a feed and writes forecasts and warnings.
* :mod:`sim.live.replay`: a hidden true night and its feed; :mod:`sim.live.skill`: scores.
* :mod:`sim.live.view`: what the app's Live page reads from a twin's folder.
"""

from .feed import END, BadLine, HttpFeed, Record, open_feed, parse_line
from .measures import MEASURE_KINDS, Measure, offered_measures, register_measure, select_measures
from .replay import Dropout, Truth, TruthSpec, parse_dropout, play
from .skill import Tracked, crps_ensemble, score_warning, track, trend_forecast
from .twin import LOG, LiveTwin
from .view import LiveView, live_scenarios, read_live

__all__ = ["END", "BadLine", "HttpFeed", "Record", "open_feed", "parse_line", "MEASURE_KINDS", "Measure",
           "offered_measures", "register_measure", "select_measures", "Dropout", "Truth", "TruthSpec", "parse_dropout",
           "play", "Tracked", "crps_ensemble", "score_warning", "track", "trend_forecast", "LOG", "LiveTwin", "LiveView",
           "live_scenarios", "read_live"]
