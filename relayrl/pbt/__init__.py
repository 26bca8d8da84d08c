"""Population-based training over several policies (docs/pbt.md): the settings (``config``), the pure
ranking and mutation math (``mutation``) and the trainer-side controller (``controller``)."""
