"""`scratchgrad run SCRIPT [ARGS...]` (API.md "The everyday PyTorch surface"): PyTorch programs
with `import torch` resolving to scratchgrad, the environment plumbing, and clear failures."""
import subprocess
import sys
import textwrap

import pytest
import torch

import scratchgrad as sg
from scratchgrad.cli import main


def script(tmp_path, source, name="prog.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


PLUMBING = """
    import sys
    import warnings

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim.lr_scheduler
    from torch.optim.lr_scheduler import StepLR
    from torch.utils.data import DataLoader, TensorDataset
    import scratchgrad

    assert torch.nn.Module is scratchgrad.nn.Module and torch.Tensor is scratchgrad.Tensor
    assert F.mse_loss is scratchgrad.nn.functional.mse_loss
    assert torch.utils.data.DataLoader is DataLoader is scratchgrad.utils.data.DataLoader
    assert torch.optim.lr_scheduler.StepLR is StepLR
    assert torch.__version__ == scratchgrad.__version__
    from torch.utils.data.dataloader import default_collate
    assert default_collate is scratchgrad.utils.data.default_collate
    assert not torch.cuda.is_available() and torch.cuda.device_count() == 0
    assert not torch.backends.mps.is_available() and not torch.backends.mps.is_built()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.set_float32_matmul_precision("high")
    torch.cuda.manual_seed(0)
    model = nn.Linear(3, 1)
    assert torch.compile(model) is model and torch.compile()(model) is model
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler(enabled=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.amp.GradScaler()  # enabled, but there is no CUDA: disabled, with a warning
    assert "CUDA is not available" in str(caught[0].message)
    with torch.autocast(device_type="cuda", dtype=torch.float16), torch.amp.autocast("cpu"):
        loss = F.mse_loss(model(torch.ones(2, 3)), torch.zeros(2, 1))
    before = model.weight.detach().numpy().copy()
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert (model.weight.detach().numpy() != before).all() and scaler.get_scale() == 1.0
    print("argv", sys.argv[1:], __name__)
"""


def test_a_pytorch_program_runs_with_the_plumbing(tmp_path, capsys):
    path = script(tmp_path, PLUMBING)
    assert main(["run", path, "--epochs", "3", "x"]) == 0
    assert capsys.readouterr().out.strip() == "argv ['--epochs', '3', 'x'] __main__"
    assert sys.modules["torch"] is torch  # the alias was for that run only


def test_a_missing_name_fails_naming_torch_dot_name(tmp_path, capsys):
    path = script(tmp_path, """
        import torch
        x = torch.ones(2)
        torch.nn.functional.some_future_op(x)
    """)
    assert main(["run", path]) == 1
    err = capsys.readouterr().err
    assert "AttributeError: torch.nn.functional.some_future_op: scratchgrad has no such" in err
    assert "prog.py\", line 4" in err


def test_a_missing_module_fails_naming_it(tmp_path, capsys):
    path = script(tmp_path, "import torch.distributed.fsdp\n")
    assert main(["run", path]) == 1
    assert "ModuleNotFoundError: No module named 'torch.distributed'" in capsys.readouterr().err


def test_exit_status_is_the_programs(tmp_path, capsys):
    assert main(["run", script(tmp_path, "import sys; sys.exit(3)\n")]) == 3
    assert main(["run", script(tmp_path, "raise SystemExit('bad config')\n")]) == 1
    assert "bad config" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "nope.py")]) == 2
    assert main([]) == 2
    assert main(["--help"]) == 0 and "scratchgrad run SCRIPT" in capsys.readouterr().out


def test_anomaly_option_stops_at_the_first_nan(tmp_path, capsys):
    path = script(tmp_path, """
        import torch
        x = torch.tensor([-1.0, 4.0], requires_grad=True)
        y = torch.sqrt(x)  # a NaN made from finite inputs
        print("not reached without an error")
    """)
    assert main(["run", path]) == 0
    capsys.readouterr()
    assert main(["run", "--anomaly", path]) == 1
    err = capsys.readouterr().err
    assert "AnomalyError" in err and "sqrt" in err and "line 4" in err


def test_trace_first_backward_prints_only_the_first(tmp_path, capsys):
    path = script(tmp_path, """
        import torch
        w = torch.tensor([2.0], requires_grad=True)
        for _ in range(3):
            (w * w).sum().backward()
        print("grad", w.grad.tolist())
    """)
    assert main(["run", "--trace-first-backward", path]) == 0
    out = capsys.readouterr().out
    assert out.count("backward through") == 1 and "mul" in out and "grad [12.0]" in out
    assert sg.Tensor.backward.__name__ == "backward"  # put back


def test_the_command_line_entry_point(tmp_path):
    path = script(tmp_path, """
        import sys, torch
        print(torch.tensor([1.0, 2.0]).sum().item(), sys.argv[1])
        torch.not_here
    """)
    done = subprocess.run([sys.executable, "-m", "scratchgrad", "run", path, "arg"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and done.stdout.strip() == "3.0 arg"
    assert "AttributeError: torch.not_here" in done.stderr


@pytest.mark.parametrize("argv", [["learn", "list"]])
def test_learn_is_still_a_subcommand(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 0
    assert "exp" in capsys.readouterr().out
