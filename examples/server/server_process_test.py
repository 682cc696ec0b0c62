"""The server binary as a user runs it: started on a checkpoint written from
Python, asked over HTTP, stopped with SIGTERM (exit status 0, "stopped")."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import numpy as np

import tapegrad.nn


def server_binary():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "server")


def request(port, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def main():
    directory = os.environ.get("TEST_TMPDIR", tempfile.mkdtemp())
    path = os.path.join(directory, "fashion.safetensors")
    model = tapegrad.nn.TensorMLP(784, [32, 10], seed=3)
    model.save(path)
    server = subprocess.Popen([server_binary(), path, "0", "fashion"],
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    assert "listening on 127.0.0.1:" in line, line
    port = int(line.rsplit(":", 1)[1])
    assert request(port, "/v2/health/ready") == (200, {"ready": True})
    status, meta = request(port, "/v2/models/fashion")
    assert status == 200 and meta["inputs"][0]["shape"] == [-1, 784], meta
    x = np.random.default_rng(0).random((2, 784)).astype(np.float32)
    status, out = request(port, "/v2/models/fashion/infer", {
        "inputs": [{"name": "input", "shape": [2, 784], "datatype": "FP32",
                    "data": x.tolist()}],
        "outputs": [{"name": "logits"}, {"name": "input_gradient"}]})
    assert status == 200, out
    expected = model(tapegrad.Tensor(x)).numpy()
    np.testing.assert_allclose(np.array(out["outputs"][0]["data"]).reshape(2, 10),
                               expected, rtol=1e-6, atol=1e-6)
    assert len(out["outputs"][1]["data"]) == 2 * 784
    status, error = request(port, "/v2/models/fashion/infer", {"inputs": 3})
    assert status == 400 and "inputs" in error["error"], error
    server.send_signal(signal.SIGTERM)
    rest, _ = server.communicate(timeout=30)
    assert server.returncode == 0, server.returncode
    assert "stopped" in rest, rest
    print("server process: served, refused a bad request, stopped on SIGTERM")


if __name__ == "__main__":
    sys.exit(main())
