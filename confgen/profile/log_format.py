"""The access-log format confgen renders, so that ``confgen measure`` can read every key of a profile
from the log nginx writes.

It is nginx's ``combined`` format (so GoAccess and other tools still read it) followed by the
variables the sizing model needs: when each request ended (``$msec``), how long it took
(``$request_time``, and the app's share ``$upstream_response_time``, quoted because a retry
writes ``0.010, 0.020``), how large the request was (``$request_length``, ``$content_length``), and
which client connection carried it (``$connection``, ``$connection_requests``).
"""

LOG_FORMAT_NAME = "confgen"

LOG_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $msec $request_time "$upstream_response_time" '
    '$request_length "$content_length" $connection $connection_requests'
)
