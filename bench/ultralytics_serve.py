"""The Ultralytics side of bench_serve.sh: a minimal ML backend that answers /health and /predict
the way label-studio-ml-backend's examples/yolo does (model.predict on the task's image, boxes.xywhn
-> percent regions, per-region score, task score = mean), behind Python's ThreadingHTTPServer with
one lock around the model (Ultralytics' predictor is not thread-safe). Images are read from
media_root like yoloop serve media_root= does. Prints "listening on <port>" once ready.

usage: python ultralytics_serve.py model=<file.pt> media_root=<dir> [imgsz=640] [conf=0.25] [threads=0]
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = dict(a.split("=", 1) for a in sys.argv[1:])
import torch  # noqa: E402

if int(args.get("threads", 0)) > 0:
    torch.set_num_threads(int(args["threads"]))
from ultralytics import YOLO  # noqa: E402

model = YOLO(args["model"])
imgsz = int(args.get("imgsz", 640))
conf = float(args.get("conf", 0.25))
media_root = args["media_root"]
lock = threading.Lock()


def predict_task(task):
    url = task["data"].get("image") or task["data"].get("$undefined$")
    path = os.path.join(media_root, url.split("/data/", 1)[1])
    with lock:
        result = model.predict(path, conf=conf, imgsz=imgsz, verbose=False)[0]
    regions, scores = [], []
    for (xc, yc, w, h), c, s in zip(result.boxes.xywhn.tolist(), result.boxes.cls.tolist(), result.boxes.conf.tolist()):
        regions.append({"from_name": "label", "to_name": "image", "type": "rectanglelabels", "score": s,
                        "value": {"x": (xc - w / 2) * 100, "y": (yc - h / 2) * 100, "width": w * 100,
                                  "height": h * 100, "rectanglelabels": [model.names[int(c)]]}})
        scores.append(s)
    return {"result": regions, "score": sum(scores) / len(scores) if scores else 0.0, "model_version": "yolo"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200, {"status": "UP", "model_class": "YOLO"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/predict":
            self.reply(200, {"results": [predict_task(t) for t in body["tasks"]]})
        else:
            self.reply(200, {"model_version": "yolo"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on", server.server_address[1], flush=True)
server.serve_forever()
