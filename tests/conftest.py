"""Shared pytest set-up: CUDA tests skip (visibly) where no GPU exists."""
import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason='needs a CUDA GPU; none on this machine')
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip_cuda)


@pytest.fixture
def astronaut01() -> torch.Tensor:
    """A real photograph (skimage's astronaut), RGB in [0, 1], [1, 3, 512, 512]."""
    from skimage import data
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 255.0
    return image.unsqueeze(0)
