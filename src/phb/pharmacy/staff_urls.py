from django.urls import path

from phb.pharmacy import views

app_name = "pharmacy_staff"
urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("prescriptions/<uuid:prescription_id>/", views.prescription, name="prescription"),
    path("dispensings/<uuid:dispensing_id>/labels/", views.labels, name="labels"),
    path("stock/", views.stock, name="stock"),
    path("products/new/", views.product_new, name="product-new"),
    path("products/<uuid:product_id>/", views.product, name="product"),
    path("batches/", views.batches, name="batches"),
    path("ledger/", views.ledger, name="ledger"),
    path("receive/", views.receive, name="receive"),
    path("adjust/", views.adjust, name="adjust"),
    path("transfer/", views.transfer, name="transfer"),
    path("destroy/", views.destroy, name="destroy"),
    path("alerts/", views.alerts, name="alerts"),
    path("valuation/", views.valuation, name="valuation"),
    path("suppliers/", views.suppliers, name="suppliers"),
    path("purchase-orders/", views.purchase_orders, name="purchase-orders"),
    path("purchase-orders/<uuid:order_id>/", views.purchase_order, name="purchase-order"),
    path("locations/", views.locations, name="locations"),
]
