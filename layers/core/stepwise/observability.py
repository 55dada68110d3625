"""Powertools logger, tracer and metrics shared by every function (configured by POWERTOOLS_*)."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "stepwise"

logger = Logger(service=_SERVICE)
tracer = Tracer(service=_SERVICE)
metrics = Metrics(service=_SERVICE)
