chmod 600 binder/notebooks/data/table.csv
chmod 2775 binder/notebooks/data
ln -s intro.ipynb binder/notebooks/start-here.ipynb
