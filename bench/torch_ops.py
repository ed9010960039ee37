#!/usr/bin/python3
"""PyTorch reference for bench/bench_ops.c: the same YOLOv8n op shapes, names and timing method.

    /usr/bin/python3 bench/torch_ops.py batch=16 imgsz=640 reps=5 threads=0 device=cpu|cuda|all \
        filter=<substring> csv=0|1

Each pass: one warm-up call, then the median of `reps` calls timed alone with CLOCK_MONOTONIC
(CUDA synchronised before each clock reading). The case table, the op/shape strings and the
work counts (FLOPs, bytes) must stay in step with bench_ops.c; run_ops.sh checks that the
shape strings agree.

What each pass calls, as a PyTorch training step would:
  conv2d      fwd F.conv2d; bwd_data / bwd_weight aten.convolution_backward with one output
              mask each (the call autograd makes; bwd_weight includes the bias gradient)
  bn_silu     fwd F.batch_norm(training=True, momentum=0.03, eps=1e-3) then F.silu;
              bwd autograd.grad of that pair for (x, gamma, beta)
  batchnorm2d, silu, maxpool2d, upsample2x, sigmoid, dfl_decode: the functional op; bwd
              autograd.grad through it
  add         fwd a + b; bwd copies dy into da and db
  concat      fwd torch.cat(out=); bwd copies each channel slice of dy into its part
  split       fwd copies each channel slice into its part; bwd torch.cat(out=)
Autograd hands out views or aliases for split, concat's and add's backward, so there the bench
times the copies into preallocated tensors that do the same work as the yoloop ops.
"""
import os
import statistics
import sys
import time

USAGE = """usage: torch_ops.py [batch=16] [imgsz=640] [reps=5] [threads=0] [device=all|cpu|cuda]
                    [filter=<substring of the op name>] [csv=0|1]"""

CSV_HEADER = "device,op,dir,shape,ms,rate,unit,status"

# (kind, site, fields): the same table as CASES in bench_ops.c. level: spatial size = imgsz >> level.
def conv(site, c, k, ks, s, level, bias=False):
    return ("conv2d", site, dict(c=c, k=k, ks=ks, s=s, level=level, bias=bias))


def act(kind, site, c, level):
    return (kind, site, dict(c=c, level=level))


def parts(kind, site, level, *sizes):
    return (kind, site, dict(parts=list(sizes), level=level))


CASES = [
    conv("0", 3, 16, 3, 2, 0),
    conv("1", 16, 32, 3, 2, 1),
    conv("2.cv1", 32, 32, 1, 1, 2),
    conv("2.m.0.cv1", 16, 16, 3, 1, 2),
    conv("2.cv2", 48, 32, 1, 1, 2),
    conv("3", 32, 64, 3, 2, 2),
    conv("4.cv1", 64, 64, 1, 1, 3),
    conv("4.m.0.cv1", 32, 32, 3, 1, 3),
    conv("4.cv2", 128, 64, 1, 1, 3),
    conv("5", 64, 128, 3, 2, 3),
    conv("6.cv1", 128, 128, 1, 1, 4),
    conv("6.m.0.cv1", 64, 64, 3, 1, 4),
    conv("6.cv2", 256, 128, 1, 1, 4),
    conv("7", 128, 256, 3, 2, 4),
    conv("8.cv1", 256, 256, 1, 1, 5),
    conv("8.m.0.cv1", 128, 128, 3, 1, 5),
    conv("8.cv2", 384, 256, 1, 1, 5),
    conv("9.cv1", 256, 128, 1, 1, 5),
    conv("9.cv2", 512, 256, 1, 1, 5),
    conv("12.cv1", 384, 128, 1, 1, 4),
    conv("15.cv1", 192, 64, 1, 1, 3),
    conv("16", 64, 64, 3, 2, 3),
    conv("19", 128, 128, 3, 2, 4),
    conv("22.cv2.0.0", 64, 64, 3, 1, 3),
    conv("22.cv3.0.0", 64, 80, 3, 1, 3),
    conv("22.cv3.0.1", 80, 80, 3, 1, 3),
    conv("22.cv2.0.2", 64, 64, 1, 1, 3, bias=True),
    conv("22.cv3.0.2", 80, 80, 1, 1, 3, bias=True),
    act("bn_silu", "0", 16, 1),
    act("bn_silu", "1", 32, 2),
    act("bn_silu", "3", 64, 3),
    act("bn_silu", "5", 128, 4),
    act("bn_silu", "7", 256, 5),
    act("batchnorm2d", "1.bn", 32, 2),
    act("silu", "1.act", 32, 2),
    ("maxpool2d", "9.m", dict(c=128, ks=5, level=5)),
    act("upsample2x", "10", 256, 5),
    act("upsample2x", "13", 128, 4),
    parts("concat", "2.cv2", 2, 16, 16, 16),
    parts("concat", "4.cv2", 3, 32, 32, 32, 32),
    parts("concat", "9.cv2", 5, 128, 128, 128, 128),
    parts("concat", "11", 4, 256, 128),
    parts("concat", "14", 3, 128, 64),
    parts("split", "2.cv1", 2, 16, 16),
    parts("split", "4.cv1", 3, 32, 32),
    act("add", "2.m.0", 16, 2),
    act("add", "4.m.0", 32, 3),
    act("sigmoid", "22.cls", 80, 0),
    act("dfl_decode", "22.dfl", 64, 0),
]

FLOAT_BYTES = 4


def parse_args(argv):
    opts = dict(batch=16, imgsz=640, reps=5, threads=0, device="all", filter="", csv=0)
    limits = dict(batch=(1, 4096), imgsz=(32, 8192), reps=(1, 1000), threads=(0, 1024), csv=(0, 1))
    for arg in argv:
        if arg in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        key, sep, value = arg.partition("=")
        if not sep or key not in opts:
            sys.exit(f"torch_ops: bad argument '{arg}'\n{USAGE}")
        if key in limits:
            low, high = limits[key]
            if not value.isdigit() or not low <= int(value) <= high:
                sys.exit(f"torch_ops: bad value in '{arg}'")
            opts[key] = int(value)
        elif key == "device" and value not in ("cpu", "cuda", "all"):
            sys.exit(f"torch_ops: bad value in '{arg}'")
        else:
            opts[key] = value
    if opts["imgsz"] % 32:
        sys.exit("torch_ops: imgsz must be a multiple of 32")
    return opts


def anchor_count(imgsz):
    return sum((imgsz // stride) ** 2 for stride in (8, 16, 32))


def conv_out_size(size, ks, s):
    pad = ks // 2
    return (size + 2 * pad - ks) // s + 1


def case_passes(kind):
    return ["fwd", "bwd_data", "bwd_weight"] if kind == "conv2d" else ["fwd", "bwd"]


def case_shape(kind, f, o):
    n, s = o["batch"], o["imgsz"] >> f["level"]
    if kind == "conv2d":
        bias = " +bias" if f["bias"] else ""
        return f"x {n}x{f['c']}x{s}x{s} w {f['k']}x{f['c']}x{f['ks']}x{f['ks']} s{f['s']}{bias}"
    if kind == "maxpool2d":
        return f"{n}x{f['c']}x{s}x{s} k{f['ks']}"
    if kind in ("concat", "split"):
        return f"{n}x({'+'.join(str(p) for p in f['parts'])})x{s}x{s}"
    if kind in ("sigmoid", "dfl_decode"):
        return f"{n}x{f['c']}x{anchor_count(o['imgsz'])}"
    return f"{n}x{f['c']}x{s}x{s}"


def case_work(kind, f, o, direction):
    """FLOPs for convolutions, bytes read + written for the rest (as in bench_ops.c)."""
    n, s, fwd = o["batch"], o["imgsz"] >> f["level"], direction == "fwd"
    if kind == "conv2d":
        so = conv_out_size(s, f["ks"], f["s"])
        return 2.0 * n * f["k"] * f["c"] * f["ks"] * f["ks"] * so * so, True
    if kind in ("concat", "split"):
        return n * sum(f["parts"]) * s * s * FLOAT_BYTES * 2.0, False
    if kind in ("sigmoid", "dfl_decode"):
        x_bytes = n * f["c"] * anchor_count(o["imgsz"]) * FLOAT_BYTES
        if kind == "sigmoid":
            return x_bytes * (2.0 if fwd else 3.0), False
        y_bytes = x_bytes / 16.0
        return (x_bytes + y_bytes if fwd else 2.0 * x_bytes + y_bytes), False
    factor = {"bn_silu": (3, 6), "batchnorm2d": (2, 3), "silu": (2, 3), "maxpool2d": (2, 3),
              "upsample2x": (5, 5), "add": (3, 3)}[kind][0 if fwd else 1]
    return float(n * f["c"] * s * s * FLOAT_BYTES * factor), False


def build_passes(torch, F, kind, f, o, device):
    """Allocates the case's tensors; returns {direction: zero-argument callable}."""
    n, s = o["batch"], o["imgsz"] >> f["level"]

    def rand(*shape, low=-1.0, high=1.0, grad=False):
        t = torch.rand(*shape, device=device) * (high - low) + low
        return t.requires_grad_(grad)

    def grad_of(make_output, inputs, dy):
        with torch.enable_grad():
            y = make_output()
        return lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True)

    if kind == "conv2d":
        c, k, ks, stride = f["c"], f["k"], f["ks"], f["s"]
        pad, so = ks // 2, conv_out_size(s, ks, stride)
        x, w, dy = rand(n, c, s, s), rand(k, c, ks, ks), rand(n, k, so, so)
        bias = rand(k) if f["bias"] else None
        bias_sizes = [k] if f["bias"] else None

        def backward(mask):
            return lambda: torch.ops.aten.convolution_backward(
                dy, x, w, bias_sizes, [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1, mask)

        return {"fwd": lambda: F.conv2d(x, w, bias, stride, pad),
                "bwd_data": backward([True, False, False]),
                "bwd_weight": backward([False, True, f["bias"]])}

    if kind in ("bn_silu", "batchnorm2d"):
        c = f["c"]
        x, dy = rand(n, c, s, s, grad=True), rand(n, c, s, s)
        gamma, beta = rand(c, low=0.5, high=1.5, grad=True), rand(c, low=-0.5, high=0.5, grad=True)
        running_mean, running_var = rand(c, low=-0.1, high=0.1), rand(c, low=0.5, high=1.5)

        def forward():
            y = F.batch_norm(x, running_mean, running_var, gamma, beta, True, 0.03, 1e-3)
            return F.silu(y) if kind == "bn_silu" else y

        return {"fwd": forward, "bwd": grad_of(forward, (x, gamma, beta), dy)}

    if kind in ("silu", "maxpool2d", "upsample2x", "sigmoid", "dfl_decode"):
        if kind in ("sigmoid", "dfl_decode"):
            x = rand(n, f["c"], anchor_count(o["imgsz"]), low=-4.0, high=4.0, grad=True)
        else:
            x = rand(n, f["c"], s, s, grad=True)
        if kind == "silu":
            forward = lambda: F.silu(x)
        elif kind == "maxpool2d":
            forward = lambda: F.max_pool2d(x, f["ks"], 1, f["ks"] // 2)
        elif kind == "upsample2x":
            forward = lambda: F.interpolate(x, scale_factor=2, mode="nearest")
        elif kind == "sigmoid":
            forward = lambda: torch.sigmoid(x)
        else:
            # Ultralytics' DFL: softmax over the 16 bins, then a 1x1 conv with weights 0..15.
            bins = f["c"] // 4
            project = torch.arange(bins, dtype=torch.float32, device=device).view(1, bins, 1, 1)

            def forward():
                b, _, a = x.shape
                p = x.view(b, 4, bins, a).transpose(2, 1).softmax(1)
                return F.conv2d(p, project).view(b, 4, a)

        with torch.no_grad():
            dy = torch.rand_like(forward()) * 2 - 1
        return {"fwd": forward, "bwd": grad_of(forward, (x,), dy)}

    if kind == "add":
        a, b, dy = rand(n, f["c"], s, s), rand(n, f["c"], s, s), rand(n, f["c"], s, s)
        da, db = torch.empty_like(dy), torch.empty_like(dy)

        def backward():
            da.copy_(dy)
            db.copy_(dy)

        return {"fwd": lambda: a + b, "bwd": backward}

    if kind in ("concat", "split"):
        sizes = f["parts"]
        whole, dwhole = rand(n, sum(sizes), s, s), rand(n, sum(sizes), s, s)
        pieces = [rand(n, p, s, s) for p in sizes]
        dpieces = [rand(n, p, s, s) for p in sizes]

        def concat(src, dst):
            return lambda: torch.cat(src, 1, out=dst)

        def split(src, dst):
            def run():
                for piece, view in zip(dst, src.split(sizes, 1)):
                    piece.copy_(view)
            return run

        if kind == "concat":
            return {"fwd": concat(pieces, whole), "bwd": split(dwhole, dpieces)}
        return {"fwd": split(whole, pieces), "bwd": concat(dpieces, dwhole)}

    raise ValueError(f"unknown kind {kind}")


def now_ms():
    return time.clock_gettime(time.CLOCK_MONOTONIC) * 1e3


def time_pass(fn, reps, sync):
    fn()
    sync()
    times = []
    for _ in range(reps):
        start = now_ms()
        fn()
        sync()
        times.append(now_ms() - start)
    return statistics.median(times)


def print_row(o, device, label, direction, shape, ms, work, is_flops, error=None):
    unit = "GFLOP/s" if is_flops else "GB/s"
    if o["csv"]:
        if error is None:
            print(f"{device},{label},{direction},{shape},{ms:.4f},{work / (ms * 1e-3) / 1e9:.3f},{unit},ok")
        else:
            print(f"{device},{label},{direction},{shape},,,{unit},{error.replace(',', ';')}")
    elif error is None:
        print(f"{device:<5} {label:<22} {direction:<10} {shape:<38} {ms:10.3f} "
              f"{work / (ms * 1e-3) / 1e9:9.2f} {unit}")
    else:
        print(f"{device:<5} {label:<22} {direction:<10} {shape:<38} {'n/a':>10}  ({error})")
    sys.stdout.flush()


def run_device(torch, F, o, device):
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    for kind, site, f in CASES:
        label = f"{kind}[{site}]"
        if o["filter"] and o["filter"] not in label:
            continue
        shape = case_shape(kind, f, o)
        error = None
        try:
            with torch.no_grad():
                passes = build_passes(torch, F, kind, f, o, device)
        except Exception as e:  # report the case and go on, as bench_ops does
            passes, error = {}, f"{type(e).__name__}: {e}".splitlines()[0]
        for direction in case_passes(kind):
            work, is_flops = case_work(kind, f, o, direction)
            if error is not None:
                print_row(o, device, label, direction, shape, 0.0, work, is_flops, error)
                continue
            try:
                with torch.no_grad():
                    ms = time_pass(passes[direction], o["reps"], sync)
                print_row(o, device, label, direction, shape, ms, work, is_flops)
            except Exception as e:
                print_row(o, device, label, direction, shape, 0.0, work, is_flops,
                          f"{type(e).__name__}: {e}".splitlines()[0])
        del passes
        if device == "cuda":
            torch.cuda.empty_cache()


def main():
    o = parse_args(sys.argv[1:])
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        sys.exit(f"torch_ops: PyTorch is not installed ({e})")

    threads = o["threads"] or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    have_cuda = torch.cuda.is_available()
    if o["device"] == "cuda" and not have_cuda:
        sys.exit("torch_ops: device=cuda but this PyTorch sees no CUDA device")
    if o["device"] == "all" and not have_cuda:
        print("torch_ops: no CUDA device for PyTorch; timing the CPU only", file=sys.stderr)

    settings = (f"batch={o['batch']} imgsz={o['imgsz']} reps={o['reps']} threads={torch.get_num_threads()} "
                f"cuda={'yes' if have_cuda and o['device'] != 'cpu' else 'no'}")
    if o["csv"]:
        print(f"# torch {torch.__version__} torch_ops {settings}")
        print(CSV_HEADER)
    else:
        print(f"PyTorch {torch.__version__} op benchmark: {settings} (median after 1 warm-up)")
        print(f"{'dev':<5} {'op':<22} {'dir':<10} {'shape':<38} {'ms':>10} {'rate':>9} unit")
    if o["device"] in ("cpu", "all"):
        run_device(torch, F, o, "cpu")
    if o["device"] in ("cuda", "all") and have_cuda:
        run_device(torch, F, o, "cuda")


if __name__ == "__main__":
    main()
