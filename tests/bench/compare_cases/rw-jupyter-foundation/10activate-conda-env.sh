eval "$(conda shell.bash activate "${CONDA_ENV}")"
