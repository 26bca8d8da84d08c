"""Population-based training over several policies (docs/pbt.md): the settings (``config``), the pure
ranking and mutation math (``mutation``), the trainer-side controller (``controller``), the lineage file
(``lineage_log``) and its plot (``plot``)."""
